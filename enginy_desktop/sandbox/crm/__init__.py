"""Emulators of CRM APIs (one package per CRM), on the kit."""
