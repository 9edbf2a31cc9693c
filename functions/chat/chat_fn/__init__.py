"""The chat function: the playground and public embeds."""
