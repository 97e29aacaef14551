from gerbang.cli.main import main

main()
