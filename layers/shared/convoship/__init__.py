"""ConvoShip agent controls: the shared layer every function imports."""
