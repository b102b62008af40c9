"""What the tests share besides fixtures: files and models they write, processes they run,
events they send. Fixtures stay in the ``conftest.py`` of the folder they serve."""
