"""The sandbox provider: a simulated upstream PSP mounted at `/sandbox` outside production."""
