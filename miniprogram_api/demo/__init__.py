"""Demo pages for the local run: a shopper's scan & pay journey and a staff gate screen.

Plain HTML and a little vanilla JavaScript that call the public API exactly as the
mini-program and the gate would (plus the sandbox, to play WeChat and the shopper's
phone). Installed and mounted only with the sandbox, so production never serves them.
"""
