from gatcli.cli import main

main()
