from macedance.cli import main

main()
