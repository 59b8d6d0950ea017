// ResultsStore
