import sys

from lenet_gui.train.train import main

sys.exit(main())
