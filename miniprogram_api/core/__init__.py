"""Building blocks every app needs: money in fen, the clock, domain errors. Imports no app."""
