"""Text processing for narration and captions: sentence splitting, speech normalisation,
extractive summaries. Pure functions over strings."""
