import sys

from mmtrio.cli import main

sys.exit(main())
