from qaug.cli import main

main()
