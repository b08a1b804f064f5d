"""Tests of gxc.sources."""
