"""Streamlit leaderboard over the results store (`ring dashboard`)."""
