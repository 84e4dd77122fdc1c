"""ArxivExampleGen: the CSV-reading, cleaning and stratified-splitting ExampleGen."""
