"""The app's screens: chat (main), sessions, memory browser, help, and the modals."""
