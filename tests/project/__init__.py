"""Tests of gxc.project."""
