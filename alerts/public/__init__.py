"""What the public and subscribers see: alert maps, MMS previews and the short-link alert page."""
