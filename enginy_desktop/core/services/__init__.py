"""Services: the operations views and the command line call. They hold the rules; views only render."""
