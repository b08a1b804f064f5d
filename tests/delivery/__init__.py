"""Tests of gxc.delivery."""
