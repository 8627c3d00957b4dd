"""`gen promote`: choose the canonical image for a target GPU from smoke evidence.

results.py loads and checks smoke results and build metadata, decide.py judges and ranks
them by the matrix policy, record.py writes the decision record and the Markdown report,
retag.py moves the canonical tag through the registry API, explain.py serves `gen explain`.
"""
