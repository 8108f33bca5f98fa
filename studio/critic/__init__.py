"""The critic: one `ClipAnalysis` per clip (`analysis`), every check over it into a `Verdict` (`judge`), the repair
and the lessons (`repair`), and what a person reads (`report`: verdict JSON, contact sheets, thumbnails).

It holds no global state: everything measured about a clip lives on that clip's `ClipAnalysis`, so several clips
can be judged at once in threads. Importing this package loads nothing heavy.
"""
