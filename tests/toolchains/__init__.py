"""Tests of gxc.toolchains."""
