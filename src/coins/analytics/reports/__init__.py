"""Dashboards as reports: key figures and sections, each section a table with (where people would rather
look than read) a chart drawn from the same numbers.

One `Report` (`base`) feeds the page (charts with their tables as the screen-reader fallback), the PDF (the
tables) and the CSV (every cell in long form), so the three can never disagree.  `campaign` and `executive`
turn a dashboard's figures into its report.
"""
