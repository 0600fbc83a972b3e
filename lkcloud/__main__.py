from lkcloud.cli.main import run

run()
