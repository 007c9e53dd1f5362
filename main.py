"""Start faceapp: `python main.py` opens the app, `python main.py --help` lists the commands."""

from faceapp.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
