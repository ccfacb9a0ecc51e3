"""Label Studio integration: connection, projects, ML backends, pre-annotation, training.

Qt-free and asyncio-based; every blocking SDK call runs in a worker thread.
"""
