"""AI columns on lists (DESIGN §14): definitions (:mod:`.columns`), placeholders (:mod:`.template`), output types
enforced with structured outputs (:mod:`.outputs`), the offline estimate (:mod:`.estimate`), where they run
(:mod:`.connection`) and the preview and background run (:mod:`.run`)."""
