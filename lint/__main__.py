from tidymark.commands.main import main

raise SystemExit(main())
