"""Prompt templates for the optional language model, installed as the package rag.prompts (see pyproject.toml)."""
