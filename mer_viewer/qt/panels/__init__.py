"""What the main window composes: docks, panels, dialogs and the results window, built from views over the infra."""
