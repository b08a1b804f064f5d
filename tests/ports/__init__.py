"""Tests of gxc.ports."""
