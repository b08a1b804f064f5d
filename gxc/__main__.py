import sys

from gxc.cli import main

sys.exit(main())
