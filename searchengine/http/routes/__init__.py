"""The app's routes, one module per area; each ``router(state)`` builds an APIRouter over
one :class:`~searchengine.http.state.AppState`."""
