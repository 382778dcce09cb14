#!/usr/bin/env python
"""Django's command-line utility for this project (``up``, ``apiserver``, ``migrate`` …)."""
import os
import sys


def _data_dir_from_argv(argv):
    """``up``/``apiserver`` take ``--data-dir``; settings must see it before Django starts."""
    for i, arg in enumerate(argv):
        if arg == "--data-dir" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--data-dir="):
            return arg.split("=", 1)[1]
    return None


def main():
    data_dir = _data_dir_from_argv(sys.argv[2:])
    if data_dir:
        os.environ["APISERVER_DATA_DIR"] = data_dir
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "apiserver.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
