import sys

from lenet_gui.cli import main

sys.exit(main())
