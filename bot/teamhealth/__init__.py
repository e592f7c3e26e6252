"""/teamhealth, shared EX/CX goals and the weekly team post."""
