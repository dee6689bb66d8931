"""What is owed after curation: dataset statistics and their figures, retention (what the terms say must be
deleted), and privacy (face blurring before anything is shown)."""
