"""`gen promote` and `gen explain`: choose the canonical image for a target GPU from evidence.

results.py loads and checks smoke results and build metadata, context.py builds the current
plan (judged by the lock, as `gen plan` does), decide.py judges the results and ranks the
passing variants by the matrix policy, record.py writes the decision record and the Markdown
report, retag.py moves the canonical tag through the registry API, explain.py serves
`gen explain`.
"""
