"""``python -m benchmarks`` (``make bench``)."""

from .runner import main

raise SystemExit(main())
