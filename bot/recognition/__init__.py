"""Recognition: /kudos, /win, and the weekly digest that ties peer recognition to customer wins."""
