"""Review learning assistant: cited answers from child safeguarding case reviews."""
