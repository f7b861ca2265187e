from tidymark.cli import main

raise SystemExit(main())
