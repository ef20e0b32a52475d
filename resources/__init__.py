"""Icons, the style sheet and the sample workspace, shipped as package data."""
