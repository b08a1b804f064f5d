"""Tests of the command line as a user runs it: the shell hook, real projects, README claims."""
