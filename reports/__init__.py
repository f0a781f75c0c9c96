"""Reports over the journal: lift (personalized vs holdout) and journey analytics, as data and as HTML."""
