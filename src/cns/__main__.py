import sys

from cns.cli import main

sys.exit(main())
