"""The web app: a Gradio UI over one served index (library), its tabs, uploads and guards."""
