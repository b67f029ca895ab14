from cellhub.cli import main

main()
