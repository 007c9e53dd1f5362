"""`python -m faceapp` is the same entry point as the `faceapp` command."""

from faceapp.cli import main

raise SystemExit(main())
