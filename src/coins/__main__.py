from coins.cli import main

main()
